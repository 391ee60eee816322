import K2Capture
import K2Core

/// One venue's synthetic market as a time-ordered stream of messages: the engine of
/// `k2 sim generate` and of the live exchange simulator.
///
/// ```swift
/// var feed = LiveFeed(profile: profile, venue: .binance, startNanos: now)
/// var buf: [UInt8] = []
/// while let event = feed.next(into: &buf) {      // appends one message to buf
///     // wait until event.offsetNanos after start, send buf[...] as a text frame, then buf.removeAll(keepingCapacity: true)
/// }
/// ```
///
/// - Deterministic: the same profile (seed) gives the same messages, so a server that makes one
///   `LiveFeed` per connection gives every client the same market; `filter` selects what one
///   client subscribed to (unsubscribed events still advance the market, so filtered clients
///   see the same prices and ids as unfiltered ones; Binance update ids keep counting, so a
///   client that subscribed to depth sees continuous `U`/`u` per symbol).
/// - Per-connection counters (Coinbase `sequence_num`) count only the messages `next`
///   returned, so make one `LiveFeed` per connection.
/// - `next` allocates nothing per message once `out` has capacity.
package struct LiveFeed: Sendable {
    /// One produced message.
    package struct Event: Sendable, Equatable {
        /// Time since the feed's start, from the profile's load shapes.
        package var offsetNanos: Int64
        /// Symbol index (0 = busiest) into `universe`.
        package var symbol: Int
        package var kind: MessageKind
        /// Bytes appended to `out` by this call.
        package var byteCount: Int
    }

    package let venue: Venue
    package let profile: SimProfile
    /// Wall-clock time of offset 0, ns since the epoch (exchange timestamps derive from it).
    package let startNanos: Int64
    package private(set) var model: MarketModel
    package private(set) var encoder: VenueEncoder
    private var arrivals: ArrivalProcess
    /// What to emit; nil emits everything.
    package var filter: SubscriptionSet?
    /// Messages returned so far.
    private(set) var emitted: Int64 = 0
    private var lastSegment = -1
    /// Emit venue heartbeats as `.heartbeat` events: Kraken `{"event":"heartbeat"}` after 1 s
    /// without a message, Coinbase `heartbeats` every second. Off by default (a server may
    /// prefer its own timer; `k2 sim generate` turns it on).
    package var heartbeats = false
    private var pendingT: Int64?
    private var lastSentT: Int64 = 0
    private var nextCoinbaseHeartbeat: Int64 = 1_000_000_000
    private var heartbeatCounter: Int64 = 0
    /// Binance as the exchange streams it: every trade event (one fill or several) becomes one
    /// `trade` message per fill (`@trade`, continuous `t`) and one `aggTrade` message
    /// (`@aggTrade`, continuous `a`, `f`..`l` the fills), all at the event's time. The event
    /// rate is then scaled by 1 / `binanceMessagesPerEvent`, so that the timeline's rate still
    /// counts messages (with all three streams). Set it before the first `next`. Off by default
    /// (one message per event); the exchange simulator and `k2 sim generate` turn it on so
    /// `@trade` and `@aggTrade` subscribers both get complete streams.
    package var binanceTradeFanout = false {
        didSet {
            arrivals.rateScale = binanceTradeFanout && venue == .binance ? 1 / Self.binanceMessagesPerEvent(profile.market) : 1
        }
    }
    /// The symbol whose ticker goes out next (Binance `bookTicker` after its book update, Kraken
    /// and Coinbase `ticker` after its trade event), or -1.
    private var tickerSymbol = -1
    private var tickerT: Int64 = 0
    /// Kraken, Coinbase: per symbol, the trades so far (for `ticker`; Binance's bookTicker needs none).
    package private(set) var tickerStats: [TickerStats] = []
    /// Binance, Coinbase: per symbol, the current candle (`kline_1m`, `candles`).
    package private(set) var candles: [CandleStats] = []
    /// Candle updates go out on a timer, as the venues send them: per subscribed symbol, from its
    /// first trade on, every 2 s on Binance and every 1 s on Coinbase, whether or not it traded
    /// (offset ns of the next tick; -1 before the first trade). A Binance tick never passes the
    /// end of the minute: the closed kline (`"x":true`) goes out at the minute's end.
    private var nextCandleT: [Int64] = []
    /// Binance: the finished minute whose closed kline the next tick sends (a trade started the
    /// next minute before that tick), and whether the current minute's closed kline went out.
    private var closedCandle: [CandleStats?] = []
    private var closedCandleSent: [Bool] = []
    /// The first candle message of a symbol, due after its first trade event (its fan-out and
    /// ticker first).
    private var pendingCandle: (symbol: Int, offset: Int64)?
    private var fanSymbol = -1
    private var fanFill = 0
    private var fanAgg = false
    private var fanT: Int64 = 0

    /// - Parameters:
    ///   - venueIndex: position of `venue` in the profile (venue 0 uses the profile seed as is;
    ///     others a derived seed, as `k2 sim generate` does).
    ///   - startNanos: wall time of offset 0; default the profile's `start`.
    package init(profile: SimProfile, venue: Venue, startNanos: Int64? = nil, venueIndex: Int = 0) {
        self.profile = profile
        self.venue = venue
        self.startNanos = startNanos ?? profile.startNanos
        let seed = profile.seed(forVenue: venueIndex)
        var market = profile.market
        if venue == .kraken {
            // A Kraken client keeps `book-N` levels and gets no deletes for levels beyond N, so
            // the model keeps exactly N: the client's book (and its checksum) is the model's,
            // and the snapshot has the N levels the subscription asked for.
            market.bookDepth = profile.krakenBookDepth
        }
        model = MarketModel(config: market, seed: seed)
        var enc = VenueEncoder(venue: venue, universe: model.universe)
        enc.combined = profile.binanceCombined
        enc.depthStreamSuffix = profile.binanceDepthSuffix
        enc.krakenBookDepth = profile.krakenBookDepth
        encoder = enc
        arrivals = ArrivalProcess(timeline: profile.timeline, seed: seed)
        tickerStats = Array(repeating: TickerStats(), count: model.universe.count)
        candles = Array(repeating: CandleStats(bucketNanos: VenueEncoder.candleBucketNanos(venue)), count: model.universe.count)
        nextCandleT = Array(repeating: -1, count: model.universe.count)
        closedCandle = Array(repeating: nil, count: model.universe.count)
        closedCandleSent = Array(repeating: false, count: model.universe.count)
    }

    package var universe: SymbolUniverse { model.universe }

    /// Mean Binance messages per market event with the trade fan-out and all three streams: a
    /// trade event is 1 fill + 1 aggTrade, an aggTrade event (1…`maxFills` fills, uniform) is
    /// (1 + maxFills) / 2 fills + 1 aggTrade, a depth event 1 update. 1.8 with the default mix.
    static func binanceMessagesPerEvent(_ m: MarketConfig) -> Double {
        let total = m.tradeWeight + m.aggTradeWeight + m.depthWeight
        guard total > 0 else { return 1 }
        let fills = (1 + Double(max(1, m.maxFills))) / 2
        return (m.tradeWeight * 2 + m.aggTradeWeight * (fills + 1) + m.depthWeight) / total
    }

    /// Binance only: whether messages are combined-stream wrapped (`/stream?streams=`) or raw
    /// (`/ws/<stream>`). Set it from the client's URL path.
    package var binanceCombined: Bool {
        get { encoder.combined }
        set { encoder.combined = newValue }
    }

    /// Appends the next message to `out` and describes it; nil when the timeline is over.
    package mutating func next(into out: inout [UInt8]) -> Event? {
        while true {
            if fanSymbol >= 0, let event = nextFanout(into: &out) { return event }
            if tickerSymbol >= 0 {
                let sym = tickerSymbol
                tickerSymbol = -1
                let before = out.count
                encoder.encodeTicker(symbol: sym, model: model, stats: tickerStats[sym], nanos: startNanos + tickerT, into: &out)
                emitted += 1
                lastSentT = tickerT
                return Event(offsetNanos: tickerT, symbol: sym, kind: .ticker, byteCount: out.count - before)
            }
            if let due = pendingCandle {
                pendingCandle = nil
                let before = out.count
                encoder.encodeCandle(symbol: due.symbol, candle: candles[due.symbol], closed: false, nanos: startNanos + due.offset, into: &out)
                emitted += 1
                lastSentT = due.offset
                return Event(offsetNanos: due.offset, symbol: due.symbol, kind: .candle, byteCount: out.count - before)
            }
            let offset: Int64
            if let pending = pendingT {
                offset = pending; pendingT = nil
            } else {
                guard let arrival = arrivals.next() else { return nil }
                offset = arrival
            }
            if let symbol = candleTickDue(before: offset) {
                pendingT = offset
                if let event = candleTick(symbol: symbol, into: &out) { return event }
                continue
            }
            if heartbeats, venue != .binance, let hb = heartbeatDue(before: offset) {
                pendingT = offset
                let before = out.count
                appendHeartbeat(at: hb, into: &out)
                emitted += 1
                return Event(offsetNanos: hb, symbol: -1, kind: .heartbeat, byteCount: out.count - before)
            }
            let seg = arrivals.currentSegment
            let segment = profile.timeline.segments[seg]
            let local = offset - profile.timeline.starts[seg]
            let driftPerSec = segment.shape.drift(at: local)
            if driftPerSec != 0 || lastSegment != seg || model.drift != 0 {
                // Spread the per-second drift over the depth events per second (the model
                // divides by each symbol's share, so all symbols drift alike).
                let rate = max(1, segment.rate(at: local) * arrivals.rateScale)
                let depthShare =
                    profile.market.depthWeight / max(1e-9, profile.market.tradeWeight + profile.market.aggTradeWeight + profile.market.depthWeight)
                model.drift = driftPerSec / max(1e-9, rate * depthShare)
                model.volatilityScale = segment.shape.volatilityScale(at: local)
                lastSegment = seg
            }
            let sym = model.pickSymbol()
            let kind = model.pickKind()
            let mk: MessageKind = kind == .trade ? .trade : kind == .aggTrade ? .aggTrade : .depth
            model.generate(kind, symbol: sym)
            if kind != .depth, venue != .kraken { updateCandle(symbol: sym, offset: offset) }
            if binanceTradeFanout, venue == .binance, kind != .depth {
                fanSymbol = sym
                fanFill = 0
                fanAgg = true
                fanT = offset
                continue
            }
            if venue != .binance, kind != .depth { tickerStats[sym].add(model.trades) }
            // Tickers only with a filter (`k2 sim generate` emits trades and books): Binance
            // bookTicker after each book update, Kraken/Coinbase ticker after each trade event.
            if let subscriptions = filter, subscriptions.contains(symbol: sym, kind: .ticker), (kind == .depth) == (venue == .binance) {
                tickerSymbol = sym
                tickerT = offset
            }
            if let subscriptions = filter, !subscriptions.contains(symbol: sym, kind: mk, venue: venue) { continue }
            let before = out.count
            encoder.encode(kind, symbol: sym, model: model, nanos: startNanos + offset, into: &out)
            emitted += 1
            lastSentT = offset
            return Event(offsetNanos: offset, symbol: sym, kind: mk, byteCount: out.count - before)
        }
    }

    /// Adds the model's trade event to `symbol`'s candle. For a client subscribed to candles,
    /// the first trade queues the first candle message and starts the symbol's timer; a trade
    /// that starts the next minute before the timer sent the closed kline keeps the finished
    /// minute for the next tick.
    private mutating func updateCandle(symbol: Int, offset: Int64) {
        let finished = candles[symbol].add(model.trades, takerBought: !model.buyerIsMaker, nanos: startNanos + offset)
        if finished != nil {
            if venue == .binance, !closedCandleSent[symbol] { closedCandle[symbol] = finished }
            closedCandleSent[symbol] = false
        }
        guard let subscriptions = filter, subscriptions.contains(symbol: symbol, kind: .candle, venue: venue) else { return }
        if nextCandleT[symbol] < 0 {
            pendingCandle = (symbol, offset)
            nextCandleT[symbol] = nextCandleTick(symbol: symbol, after: offset)
        }
    }

    /// The symbol whose candle tick comes first at or before `offset`, if any.
    private func candleTickDue(before offset: Int64) -> Int? {
        guard venue != .kraken, let subscriptions = filter else { return nil }
        var due: Int?
        for symbol in nextCandleT.indices where nextCandleT[symbol] >= 0 && nextCandleT[symbol] <= offset {
            guard subscriptions.contains(symbol: symbol, kind: .candle, venue: venue) else { continue }
            if due.map({ nextCandleT[symbol] < nextCandleT[$0] }) ?? true { due = symbol }
        }
        return due
    }

    /// The tick after `offset`: the venue's update interval later, and on Binance no later than
    /// the end of the current minute.
    private func nextCandleTick(symbol: Int, after offset: Int64) -> Int64 {
        let tick = offset + (venue == .binance ? 2_000_000_000 : 1_000_000_000)
        guard venue == .binance, let start = candles[symbol].start else { return tick }
        let minuteEnd = start + candles[symbol].bucketNanos - startNanos
        return minuteEnd > offset ? min(tick, minuteEnd) : tick
    }

    /// Sends `symbol`'s candle at its tick: Binance's kept closed kline first; at or past the
    /// minute's end, the current kline closed (once; nothing more until a trade starts the next
    /// minute); otherwise the current candle. Nil when the tick sends nothing.
    private mutating func candleTick(symbol: Int, into out: inout [UInt8]) -> Event? {
        let tick = nextCandleT[symbol]
        nextCandleT[symbol] = nextCandleTick(symbol: symbol, after: tick)
        let candle: CandleStats
        var closed = false
        if let kept = closedCandle[symbol] {
            closedCandle[symbol] = nil
            candle = kept
            closed = true
        } else if venue == .binance, let start = candles[symbol].start, tick >= start + candles[symbol].bucketNanos - startNanos {
            guard !closedCandleSent[symbol] else { return nil }
            closedCandleSent[symbol] = true
            candle = candles[symbol]
            closed = true
        } else {
            candle = candles[symbol]
        }
        let before = out.count
        encoder.encodeCandle(symbol: symbol, candle: candle, closed: closed, nanos: startNanos + tick, into: &out)
        emitted += 1
        lastSentT = tick
        return Event(offsetNanos: tick, symbol: symbol, kind: .candle, byteCount: out.count - before)
    }

    /// The next message of the current Binance trade event's fan-out, nil when it is done.
    private mutating func nextFanout(into out: inout [UInt8]) -> Event? {
        let sym = fanSymbol
        let before = out.count
        while fanFill < model.trades.count {
            let fillIndex = fanFill
            fanFill += 1
            if let subscriptions = filter, !subscriptions.contains(symbol: sym, kind: .trade, venue: venue) { continue }
            encoder.encodeBinanceFill(fillIndex, symbol: sym, model: model, nanos: startNanos + fanT, into: &out)
            emitted += 1
            lastSentT = fanT
            return Event(offsetNanos: fanT, symbol: sym, kind: .trade, byteCount: out.count - before)
        }
        fanSymbol = -1
        guard fanAgg else { return nil }
        fanAgg = false
        if let subscriptions = filter, !subscriptions.contains(symbol: sym, kind: .aggTrade, venue: venue) { return nil }
        encoder.encode(.aggTrade, symbol: sym, model: model, nanos: startNanos + fanT, into: &out)
        emitted += 1
        lastSentT = fanT
        return Event(offsetNanos: fanT, symbol: sym, kind: .aggTrade, byteCount: out.count - before)
    }

    private func heartbeatDue(before t: Int64) -> Int64? {
        switch venue {
        case .kraken: return t - lastSentT > 1_000_000_000 ? lastSentT + 1_000_000_000 : nil
        case .coinbase: return nextCoinbaseHeartbeat <= t ? nextCoinbaseHeartbeat : nil
        case .binance: return nil
        }
    }

    private mutating func appendHeartbeat(at t: Int64, into out: inout [UInt8]) {
        lastSentT = t
        switch venue {
        case .kraken: out.append(contentsOf: VenueAnswers.krakenHeartbeat)
        case .coinbase:
            heartbeatCounter += 1
            nextCoinbaseHeartbeat += 1_000_000_000
            out.append(
                contentsOf: VenueAnswers.coinbaseHeartbeat(
                    counter: heartbeatCounter, nanos: startNanos + t,
                    uptimeNanos: t, sequence: takeCoinbaseSequence()))
        case .binance: break
        }
    }

    /// Binance REST `GET /api/v3/depth?symbol=…&limit=…` body for `symbol` now, consistent
    /// with the depth updates: its `lastUpdateId` is the `u` of the last update sent for it.
    package func snapshot(symbol: Int, limit: Int? = nil) -> [UInt8] {
        VenueEncoder.binanceSnapshot(model: model, symbol: symbol, limit: limit)
    }

    /// Kraken v1 book snapshot for `symbol` now (send after the book subscriptionStatus).
    package func krakenBookSnapshot(symbol: Int, nanos: Int64) -> [UInt8] {
        encoder.krakenBookSnapshot(model: model, symbol: symbol, nanos: nanos)
    }

    /// Coinbase `l2_data` snapshot of `symbol` now (send after the `level2` subscriptions ack,
    /// before its updates), numbered `sequence`.
    package func coinbaseBookSnapshot(symbol: Int, nanos: Int64, sequence: Int64) -> [UInt8] {
        encoder.coinbaseBookSnapshot(model: model, symbol: symbol, nanos: nanos, sequence: sequence)
    }

    /// Coinbase `ticker` `snapshot` of `symbol` now (send after the `ticker` subscriptions ack), numbered `sequence`.
    package func coinbaseTickerSnapshot(symbol: Int, nanos: Int64, sequence: Int64) -> [UInt8] {
        var enc = encoder
        var out: [UInt8] = []
        enc.encodeTicker(symbol: symbol, model: model, stats: tickerStats[symbol], nanos: nanos, coinbaseSnapshotSequence: sequence, into: &out)
        return out
    }

    /// Coinbase `candles` `snapshot` of `symbol` now (send after the `candles` subscriptions ack), numbered `sequence`.
    package func coinbaseCandleSnapshot(symbol: Int, nanos: Int64, sequence: Int64) -> [UInt8] {
        var enc = encoder
        var out: [UInt8] = []
        enc.encodeCandle(symbol: symbol, candle: candles[symbol], closed: false, nanos: nanos, coinbaseSnapshotSequence: sequence, into: &out)
        return out
    }

    /// Coinbase: takes the next `sequence_num` for a control message the server sends on this
    /// connection (subscriptions, heartbeats), keeping the numbering continuous.
    mutating func takeCoinbaseSequence() -> Int64 {
        defer { encoder.coinbaseSequence += 1 }
        return encoder.coinbaseSequence
    }
}
