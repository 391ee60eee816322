// K2Record module.
