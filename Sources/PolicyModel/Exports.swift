// The container model lives in PolicyCore, which the launcher uses without the compiler; every
// user of PolicyModel sees it as part of the model.
@_exported import PolicyCore
