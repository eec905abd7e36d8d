/** Bad input on the command line: exit status 2 with the message, no stack. */
export class UsageError extends Error {}
