// What the Node end-to-end scripts share: `--name value` arguments, a whole-script deadline, and TAP-like
// checks ("ok - ..." / "not ok - ...") counted for the exit status.
const argv = process.argv.slice(2);

export const arg = (name, fallback) => {
  const i = argv.indexOf(name);
  return i >= 0 && i + 1 < argv.length ? argv[i + 1] : fallback;
};
export const flag = name => argv.includes(name);

// Exits 1 when the script is still running after `ms`.
export function deadline(ms) {
  setTimeout(() => { console.error(`FAIL: timed out after ${ms} ms`); process.exit(1); }, ms).unref();
}

let failures = 0;
export async function check(name, fn) {
  try {
    const detail = await fn();
    console.log(`ok - ${name}${detail ? ` (${detail})` : ''}`);
  } catch (e) {
    failures++;
    console.log(`not ok - ${name}: ${e?.stack ?? e}`);
  }
}
export const expect = (cond, what) => { if (!cond) throw new Error(what); };

// The summary line and the exit status.
export function finish() {
  console.log(failures ? `FAIL: ${failures} check(s) failed` : 'PASS: every check passed');
  process.exit(failures ? 1 : 0);
}
