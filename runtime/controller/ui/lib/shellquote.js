// Shell quoting for the commands the pages show the operator to copy and run: every value in
// them (a user name, an address, a token) is one POSIX shell word, whatever it holds.

// shellQuote is s as one POSIX shell word: in single quotes, where the shell expands nothing,
// with each ' written as '\'' (close the quotes, an escaped quote, open them again).
export function shellQuote(s) {
  return "'" + String(s).replace(/'/g, "'\\''") + "'";
}

// shellCommand is a tag for template literals: the literal parts are the command as written,
// each ${value} is quoted with shellQuote. shellCommand`sudo ./avi-init -m ${ip}`.
export function shellCommand(parts, ...values) {
  return parts.reduce((out, part, i) => out + shellQuote(values[i - 1]) + part);
}
