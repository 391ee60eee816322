import K2Capture
import K2Core

extension WebSocketSink {
    /// Kraken v1 channel names the sink accepts in `subscribe` (any the capture may hold).
    static let krakenChannels: Set<String> = ["trade", "book", "ticker", "spread", "ohlc"]

    /// Applies a client's (un)subscribe and writes the venue's answer. On the server's loop.
    func handle(_ request: VenueRequest, from client: Client) {
        let now = clock.monotonicNanos()
        let wall = clock.wallNanos()
        lock.withLock {
            switch request {
            case let .binance(binance):
                client.write(binanceAnswer(binance, client: client), now: now)
            case let .kraken(kraken):
                for frame in krakenAnswer(kraken, client: client) { client.write(frame, now: now) }
            case let .coinbase(coinbase):
                guard coinbase.type == "subscribe" || coinbase.type == "unsubscribe" else {
                    client.write(VenueAnswers.malformedRequest(.coinbase), now: now)
                    return
                }
                let subscribe = coinbase.type == "subscribe"
                if coinbase.channel == "heartbeats" {
                    client.coinbaseHeartbeats = subscribe
                } else {
                    for product in coinbase.productIDs {
                        // No channel (the Exchange feed's `"channels":[…]`): every message for the product.
                        let key =
                            coinbase.channel.isEmpty
                            ? "*|\(product.uppercased())" : VenueRoute.coinbaseKey(channel: coinbase.channel, product: product)
                        if subscribe { client.subscriptions.insert(key) } else { client.subscriptions.remove(key) }
                    }
                }
                client.write(
                    VenueAnswers.coinbaseSubscriptions(coinbaseProducts(client), nanos: wall, sequence: client.nextCoinbaseSequence()), now: now)
            }
        }
    }

    /// A frame that is no request the venue understands: the venue's error answer, as the
    /// exchange simulator gives it (nothing when the venue is not known). On the server's loop.
    func refuse(_ client: Client) {
        guard let venue else { return }
        let now = clock.monotonicNanos()
        lock.withLock { client.write(VenueAnswers.malformedRequest(venue), now: now) }
    }

    /// What the Coinbase `subscriptions` ack lists for `client`: products per channel (from its
    /// `channel|PRODUCT` keys, in name order) and `heartbeats`. Under `lock`.
    private func coinbaseProducts(_ client: Client) -> [String: [String]] {
        var products: [String: [String]] = client.coinbaseHeartbeats ? ["heartbeats": ["heartbeats"]] : [:]
        for key in client.subscriptions.sorted() {
            let parts = key.split(separator: "|", maxSplits: 1)
            guard parts.count == 2, parts[0] != "*" else { continue }
            products[String(parts[0]), default: []].append(String(parts[1]))
        }
        return products
    }

    /// SUBSCRIBE / UNSUBSCRIBE / LIST_SUBSCRIPTIONS as Binance answers them. Under `lock`.
    private func binanceAnswer(_ request: BinanceRequest, client: Client) -> [UInt8] {
        switch request.method {
        case "SUBSCRIBE":
            for stream in request.params where !client.binanceStreams.contains(stream) {
                client.binanceStreams.append(stream)
                client.subscriptions.insert(VenueRoute.binanceKey(stream))
            }
            return VenueAnswers.binanceResult(id: request.idJSON)
        case "UNSUBSCRIBE":
            for stream in request.params {
                client.binanceStreams.removeAll { $0 == stream }
                client.subscriptions.remove(VenueRoute.binanceKey(stream))
            }
            return VenueAnswers.binanceResult(id: request.idJSON)
        case "LIST_SUBSCRIPTIONS":
            return VenueAnswers.binanceList(client.binanceStreams, id: request.idJSON)
        default:
            return VenueAnswers.binanceError("Invalid request: unknown method", id: request.idJSON)
        }
    }

    /// subscribe / unsubscribe / ping as Kraken v1 answers them: one `subscriptionStatus` per pair. Under `lock`.
    private func krakenAnswer(_ request: KrakenRequest, client: Client) -> [[UInt8]] {
        switch request.event {
        case "ping":
            return [VenueAnswers.krakenPong(reqid: request.reqid)]
        case "subscribe", "unsubscribe":
            client.kraken = true
            guard Self.krakenChannels.contains(request.name) else {
                return [
                    VenueAnswers.krakenError(
                        "Subscription name invalid", name: request.name, depth: request.depth, pair: request.pairs.first,
                        reqid: request.reqid)
                ]
            }
            let subscribe = request.event == "subscribe"
            return request.pairs.map { pair in
                let key = VenueRoute.krakenKey(channel: request.name, pair: pair)
                if subscribe { client.subscriptions.insert(key) } else { client.subscriptions.remove(key) }
                // One id per channel and pair for the whole replay, from 100.
                let channelID = krakenChannelIDs[key] ?? 100 + Int64(krakenChannelIDs.count)
                krakenChannelIDs[key] = channelID
                return VenueAnswers.krakenStatus(
                    channelID: channelID, name: request.name, depth: request.depth, pair: pair,
                    reqid: request.reqid, subscribed: subscribe)
            }
        default:
            return [VenueAnswers.krakenEventError("Unsupported event", reqid: request.reqid)]
        }
    }
}
