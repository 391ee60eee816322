// K2TestSupport module.
