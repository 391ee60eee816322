// K2Replay module.
