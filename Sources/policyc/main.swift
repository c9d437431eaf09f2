import PolicycCLI

Policyc.entry()
