// policyc: starts a container from a cached profile itself, and hands every other command
// line to policyc-full. Nothing here links Foundation or the compiler, so that a container
// start pays for little more than the launch (see Docs/run.md, speed).
import Glibc
import LaunchCore
import SystemLayer

let arguments = CommandLine.arguments
if arguments.count > 1, arguments[1] == "run", let status = RunRequest.runFromCache(arguments.dropFirst(2)) {
    exit(status)
}
System.writeStderr("policyc: \(Installation.execFull(arguments))\n")
exit(1)
