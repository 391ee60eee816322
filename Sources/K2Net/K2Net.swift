// K2Net module.
