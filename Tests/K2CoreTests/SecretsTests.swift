import K2Core
import Testing

/// Issue 17: secrets never reach a message, a summary or a report (`Secrets.mask`).
struct SecretsTests {
    @Test(arguments: [
        // -X properties, whatever the key's spelling or case.
        (
            "bad -X property 'sasl.pasword=hunter2': No such configuration property",
            "bad -X property 'sasl.pasword=***': No such configuration property"
        ),
        ("-X sasl.password=hunter2 -X linger.ms=5", "-X sasl.password=*** -X linger.ms=5"),
        ("SSL.KEY.PASSWORD=abc", "SSL.KEY.PASSWORD=***"),
        ("api_token=t0k linger.ms=5", "api_token=*** linger.ms=5"),
        ("sasl.username=alice", "sasl.username=***"),
        ("client_secret=xyz&topic=a", "client_secret=***&topic=a"),
        ("passwd=1234", "passwd=***"),
        // URI userinfo and query parameters.
        ("kafka://alice:s3cret@broker:9092?topic=x", "kafka://alice:***@broker:9092?topic=x"),
        ("clickhouse://u:p%40ss@127.0.0.1:8123/db?mode=raw&password=other", "clickhouse://u:***@127.0.0.1:8123/db?mode=raw&password=***"),
        ("clickhouses://writer@host/db?user=w", "clickhouses://writer@host/db?user=w"),
        // YAML.
        ("  sasl.password: hunter2", "  sasl.password: ***"),
        // Nothing secret: unchanged.
        ("bad -X property 'linger.ms=banana': invalid value", "bad -X property 'linger.ms=banana': invalid value"),
        ("replay completed: 20000 messages, 3 MB in 1.2 s", "replay completed: 20000 messages, 3 MB in 1.2 s"),
        ("mode=raw&batch=1000&flush_ms=200", "mode=raw&batch=1000&flush_ms=200"),
        ("-X 'novalue' is not key=value", "-X 'novalue' is not key=value"),
    ])
    func masksSecretValuesInPlace(input: String, expected: String) {
        #expect(Secrets.mask(input) == expected)
    }

    @Test func secretLookingKeys() {
        for key in [
            "password", "PASSWORD", "sasl.pasword", "sasl.mechanism", "ssl.key.password", "api_key", "token", "Secret", "pwd", "credentials", "auth",
        ] {
            #expect(Secrets.isSecretKey(key), "\(key)")
        }
        for key in ["linger.ms", "topic", "mode", "batch", "bootstrap.servers", "security.protocol", "message.timeout.ms"] {
            #expect(!Secrets.isSecretKey(key), "\(key)")
        }
    }

    /// A registered secret is masked wherever it appears, e.g. in a library's message.
    @Test func registeredValuesAreMaskedAnywhere() {
        Secrets.registerSecrets(uri: "kafka://bob:Zq9-unique-pw@host:9092", properties: [("sasl.password", "Vv7-unique-prop")])
        #expect(Secrets.mask("SASL authentication failed (pw Zq9-unique-pw)") == "SASL authentication failed (pw ***)")
        #expect(Secrets.mask("echo Vv7-unique-prop and more") == "echo *** and more")
    }
}
