extension BenchReport {
    /// One fault of the run's schedule as it happened (report.json `runs[].faults`), with the
    /// recovery figures computed from the run's intervals (`FaultRecovery`).
    package struct FaultWindow: Sendable, Equatable, Codable {
        /// What was done, in words (`broker 1 down`, `ClickHouse paused (SIGSTOP)` …).
        package var what: String
        /// `broker`, `clickhouse` or `command`.
        package var target: String
        /// Seconds from the start of the measured window until the fault was injected.
        package var startSeconds: Double
        /// Seconds from the start of the measured window until it was over (the end action done:
        /// broker up, SIGCONT, the restarted server answering); equal to the start for a one-off.
        package var endSeconds: Double
        /// `ok`, `ended early (the run ended)`, or why the injection failed.
        package var outcome: String
        /// Seconds from the end until the backlog and the consumer lag were back under their
        /// normal level (1 s resolution); nil when not within the run or not measurable.
        package var recoverySeconds: Double?
        /// Highest Kafka sink backlog (messages sent, not yet acknowledged) from the start until recovered.
        package var maxBacklog: Double?
        /// Highest consumer lag (ClickHouse rows behind, else messages the consumer had not read) over the same span.
        package var maxLag: Double?
        /// Why `recoverySeconds` is nil, when it is.
        package var recoveryNote: String?
        /// Seconds from the end until freshness was back under its target: the first probe sent
        /// after the end that, with the next two, became visible in ClickHouse within the target
        /// (`FaultRecovery.freshnessTargetSeconds`), counted to when it became visible. Nil when
        /// not within the run, or the run has no probes (then `freshnessNote` says which).
        package var freshnessRecoverySeconds: Double?
        /// Highest probe freshness (intended send to visible) of probes sent from the fault's
        /// start until freshness was back; a probe never seen counts as its wait so far.
        package var maxFreshnessSeconds: Double?
        package var freshnessNote: String?

        package init(what: String, target: String, startSeconds: Double, endSeconds: Double, outcome: String) {
            self.what = what
            self.target = target
            self.startSeconds = startSeconds
            self.endSeconds = endSeconds
            self.outcome = outcome
        }
    }

    /// When the consumer lag first reached one of the v2 platform's degradation levels.
    package struct LagLevel: Sendable, Equatable, Codable {
        /// The level, messages (100K, 500K, 1M, 5M).
        package var level: Double
        /// Seconds from the start of the measured window; nil when not reached.
        package var crossedAtSeconds: Double?
        package init(level: Double, crossedAtSeconds: Double?) {
            self.level = level
            self.crossedAtSeconds = crossedAtSeconds
        }
    }
}
