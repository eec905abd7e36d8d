/**
 * The lab lock: one run per host workdir at a time, held with a kernel lock that dies with its
 * holder. `vdpa-bench.lock` is flock(2)ed by a small bash process the harness keeps running on
 * the host (a session of the ssh master connection, or a local child): its stdin is the
 * harness, so when the harness dies — SIGKILL included — or its connection drops, the process
 * reads EOF, exits, and the kernel releases the lock. The file's content is the holder's owner
 * record, kept for messages.
 *
 * So a lock file whose flock is free was left by a run that is provably gone: it is taken over,
 * the QEMU processes of that run are ended (our uid and the run's socket directory in their
 * command line, see ownership.ts) and the takeover is reported. A held flock is a live run:
 * refused, naming it.
 */
import { join } from 'node:path';
import { openSession, type HostSession } from '../hosts/line-session.ts';
import type { HostTransport } from '../hosts/transport.ts';
import { describeHolder, endRunQemu, holderLiveness, LabBusyError, LOCK_FILE, parseOwner, type OwnerRecord } from './ownership.ts';

/**
 * Holds the lock until told `release` (then removes the file) or until stdin ends (the harness or
 * its connection died: the file stays, naming the dead run, and the kernel lock goes with us).
 * Between taking the flock and writing the new owner record it asks the harness (`take`), which
 * first checks the previous record. Retries when the file was replaced between open and flock
 * (a releasing run removes it while holding the lock).
 */
export const HOLDER_SCRIPT = String.raw`
set -u
workdir=$1; content=$2
lock=$workdir/vdpa-bench.lock
mkdir -p -- "$workdir" 2>/dev/null || { echo "error cannot create $workdir"; exit 4; }
command -v flock >/dev/null 2>&1 || { echo "error the flock command is missing on this host (util-linux)"; exit 4; }
ok=
for _ in 1 2 3 4 5 6 7 8 9 10; do
  exec 9<>"$lock" || { echo "error cannot open $lock"; exit 4; }
  if ! flock -n 9; then
    printf 'held\t%s\n' "$(tr -d '\n\t' < "$lock" 2>/dev/null)"
    exit 3
  fi
  if [ "$(stat -L -c %d:%i /proc/self/fd/9 2>/dev/null)" = "$(stat -c %d:%i -- "$lock" 2>/dev/null)" ]; then ok=1; break; fi
  exec 9>&-
done
[ -n "$ok" ] || { echo "error $lock keeps being replaced"; exit 4; }
printf 'free\t%s\n' "$(tr -d '\n\t' < "$lock")"
IFS= read -r answer || exit 0
[ "$answer" = take ] || exit 0
printf '%s\n' "$content" > "$lock" || { echo "error cannot write $lock"; exit 4; }
echo acquired
IFS= read -r answer || exit 0
if [ "$answer" = release ]; then rm -f -- "$lock"; echo released; fi
`;

/** A run taken over because its lock holder was gone (the manifest's `recovered`). */
export interface RecoveredRun {
  host: string;
  runId: string | null;
  pid: number | null;
  controller?: string;
  /** pids of that run's QEMU processes this run ended. */
  processesEnded: number[];
}

export interface LabLock {
  /** The owner record written into the lock file. */
  content: string;
  /** Set when this acquisition took over the lock of a dead run. */
  recovered?: RecoveredRun;
  /**
   * Resolves if the holder process ends while the lock is held (the host's connection dropped):
   * the kernel lock is gone with it.
   */
  lost: Promise<void>;
  release(): Promise<void>;
}

export interface LockOptions {
  note?: (message: string) => void;
  timeoutMs?: number;
  /** How long a lock still held for a harness that provably died here is waited for. */
  exitGraceMs?: number;
}

const EXIT_GRACE_MS = 15_000;

const answerTimeout = 30_000;

/**
 * Takes the lab lock in a host's workdir. Re-entrant for the same run in the same process (two
 * profile hosts on one machine share a workdir): the second acquisition finds the flock held by
 * a record naming this very process and shares it (its release is a no-op).
 */
export async function acquireLock(host: HostTransport, workdir: string, owner: OwnerRecord, options: LockOptions = {}): Promise<LabLock> {
  const deadline = Date.now() + (options.exitGraceMs ?? EXIT_GRACE_MS);
  for (;;) {
    try {
      return await tryLock(host, workdir, owner, options);
    } catch (error) {
      // the harness is provably gone but its holder on the host has not seen EOF yet (ssh carries it): a moment more
      if (!(error instanceof LabBusyError) || !error.holder || holderLiveness(error.holder) !== 'dead' || Date.now() > deadline) throw error;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

/** The lock is held: by this very run (nothing to take), or else the lab is busy and says by whom. */
function heldLock(host: HostTransport, lockPath: string, text: string, owner: OwnerRecord): LabLock {
  const holder = parseOwner(text);
  if (holder && holder.runId === owner.runId && holder.pid === owner.pid && holder.controller === owner.controller) {
    return { content: text, lost: new Promise(() => {}), release: async () => {} };
  }
  if (!holder)
    throw new LabBusyError(
      `${host.hostName}: the lab is busy: ${lockPath} is locked by a process that wrote ${text ? JSON.stringify(text.slice(0, 120)) : 'no owner record yet'}`,
      null,
      false,
    );
  const where = holder.controller !== owner.controller ? ` (its harness runs on ${holder.controller})` : '';
  throw new LabBusyError(`${host.hostName}: the lab is busy: ${describeHolder(holder)}${where}; it still holds ${lockPath}`, holder, false);
}

async function tryLock(host: HostTransport, workdir: string, owner: OwnerRecord, options: LockOptions): Promise<LabLock> {
  const content = JSON.stringify(owner);
  const lockPath = join(workdir, LOCK_FILE);
  const timeoutMs = options.timeoutMs ?? answerTimeout;
  const session = await openSession(host, ['bash', '-c', HOLDER_SCRIPT, 'vdpa-bench-lock', workdir, content]);
  try {
    const first = await session.nextLine(timeoutMs);
    const [state, text = ''] = splitOnce(first);
    if (state === 'error') throw new Error(`${host.hostName}: cannot take the lab lock: ${text}`);
    if (state === 'held') {
      await session.close();
      return heldLock(host, lockPath, text, owner);
    }
    if (state !== 'free') throw new Error(`${host.hostName}: unexpected answer from the lock holder: ${JSON.stringify(first.slice(0, 200))}`);
    const previous = text ? parseOwner(text) : null;
    // a harness from before kernel locks held none: a record naming a live vdpa-bench process here is still a run
    if (previous && previous.pid !== process.pid && holderLiveness(previous) === 'alive') {
      await session.close();
      throw new LabBusyError(
        `${host.hostName}: the lab is busy: ${describeHolder(previous)} (it holds ${lockPath} without a kernel lock: an older vdpa-bench)`,
        previous,
        false,
      );
    }
    session.send('take');
    const taken = await session.nextLine(timeoutMs);
    if (taken !== 'acquired') throw new Error(`${host.hostName}: cannot take the lab lock: ${taken.replace(/^error /, '')}`);
    let released = false;
    let ended = false;
    const lost = session.ended.then(() => {
      ended = true;
      return released ? new Promise<void>(() => {}) : undefined;
    });
    const lock: LabLock = {
      content,
      lost,
      release: async () => {
        if (released) return;
        released = true;
        // a holder gone with its connection left the file naming this run: remove it if still ours and free
        if (ended) await host.script(RELEASE_LOST, [workdir, content], { allowFailure: true, timeoutMs }).catch(() => undefined);
        else await releaseHeld(session, timeoutMs);
      },
    };
    // our own record: this run re-takes a lock it lost with its connection, nothing to end
    const ours = previous?.runId === owner.runId && previous.pid === owner.pid && previous.controller === owner.controller;
    if (text && !ours) lock.recovered = await recoverDeadRun(host, workdir, { text, previous }, options.note);
    return lock;
  } catch (error) {
    await session.close().catch(() => undefined);
    throw error;
  }
}

const RELEASE_LOST = String.raw`
set -u
lock=$1/vdpa-bench.lock
[ -e "$lock" ] || exit 0
exec 9<>"$lock" || exit 0
flock -n 9 || exit 0
[ "$(cat -- "$lock")" = "$2" ] && rm -f -- "$lock"
exit 0
`;

async function releaseHeld(session: HostSession, timeoutMs: number): Promise<void> {
  session.send('release');
  await session.nextLine(timeoutMs).catch(() => undefined);
  await session.close();
}

/** A lock file this run took over: its raw content and the owner record parsed from it, if it is one. */
interface TakenOverLock {
  text: string;
  previous: OwnerRecord | null;
}

/** Ends the QEMU processes of the run whose lock was taken over and says so. */
async function recoverDeadRun(host: HostTransport, workdir: string, { text, previous }: TakenOverLock, note?: (m: string) => void): Promise<RecoveredRun> {
  const lockPath = join(workdir, LOCK_FILE);
  if (!previous) {
    note?.(
      `${host.hostName}: took over ${lockPath}: no process held it, and its content is not an owner record (${JSON.stringify(text.slice(0, 80))}); no run to end`,
    );
    return { host: host.hostName, runId: null, pid: null, processesEnded: [] };
  }
  const ended = await endRunQemu(host, workdir, previous.runId);
  const what =
    ended.length > 0 ? `ended its ${ended.length} leftover QEMU process${ended.length === 1 ? '' : 'es'} (pid ${ended.join(', ')})` : 'no QEMU of it was left';
  note?.(`${host.hostName}: took over the lock of ${describeHolder(previous)}: that harness is gone (no process holds ${lockPath} any more); ${what}`);
  return { host: host.hostName, runId: previous.runId, pid: previous.pid, controller: previous.controller, processesEnded: ended };
}

function splitOnce(line: string): [string, string?] {
  const tab = line.indexOf('\t');
  if (tab >= 0) return [line.slice(0, tab), line.slice(tab + 1)];
  const space = line.indexOf(' ');
  return space >= 0 ? [line.slice(0, space), line.slice(space + 1)] : [line];
}

const CLEAR_STALE = String.raw`
set -u
lock=$1/vdpa-bench.lock
[ -e "$lock" ] || { echo none; exit 0; }
exec 9<>"$lock" || exit 4
flock -n 9 || { printf 'held\t%s\n' "$(tr -d '\n\t' < "$lock")"; exit 0; }
printf 'cleared\t%s\n' "$(tr -d '\n\t' < "$lock")"
rm -f -- "$lock"
`;

/**
 * For `cleanup`: removes a lock file no process holds (a dead run's), reporting whose it was;
 * a held one is left and named.
 */
export async function clearStaleLock(
  host: HostTransport,
  workdir: string,
): Promise<{ state: 'none' | 'cleared' | 'held'; holder: OwnerRecord | null; text: string }> {
  const result = await host.script(CLEAR_STALE, [workdir], { allowFailure: true, timeoutMs: 30_000 });
  if (result.exitCode !== 0)
    throw new Error(`${host.hostName}: cannot check ${join(workdir, LOCK_FILE)}: ${(result.stderr || result.stdout).trim() || `exit ${result.exitCode}`}`);
  const [state, text = ''] = splitOnce(result.stdout.trim());
  return { state: state as 'none' | 'cleared' | 'held', holder: parseOwner(text), text };
}
