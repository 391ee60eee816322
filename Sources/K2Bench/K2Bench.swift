// K2Bench module.
