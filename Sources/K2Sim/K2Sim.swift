// K2Sim module.
