// The one progress line of the bench: rewritten in place on a terminal, printed once when done otherwise.
const isTty = process.stdout.isTTY === true

export function progress (line: string, done: boolean): void {
  if (isTty) process.stdout.write(`\r\x1b[2K${line}${done ? '\n' : ''}`)
  else if (done) console.log(line)
}
