// A config that a target cannot express or deploy as asked: a user error whose message says
// where (file:line:col) and what to change. The CLI prints it and exits 1.
export class TargetError extends Error {}
