/**
 * One migration as real QEMU did it, recorded for test/helpers/fake-qemu.ts to replay: the trace
 * lines both QEMU processes wrote (QEMU 10.0.13 from Debian trixie, TCG, a 512M builtin-linux
 * guest of the lab in a box, variant limit-300ms, migration 1 of run lab-in-a-box-20261207-113127,
 * events runstate_set, migrate_set_state and vmstate_downtime_checkpoint), the QMP MIGRATION
 * events' timestamps, query-migrate's figures, and what the harness recorded for it. Replayed
 * at another time the lines keep their spacing, so the engine must compute the same downtimes.
 */
import { parseTraceLine, type TraceEvent } from '../../harness/traces/parse.ts';

/** The source's line at boot (written when the guest starts running, before any migration). */
const SOURCE_BOOT = '6454@1796643107.329829:runstate_set current_run_state 6 (prelaunch) new_state 9 (running)';

const SOURCE = `6454@1796643120.528028:migrate_set_state new state setup
7338@1796643120.533438:migrate_set_state new state active
7338@1796643125.893702:vmstate_downtime_checkpoint src-downtime-start
7338@1796643125.893769:runstate_set current_run_state 9 (running) new_state 7 (finish-migrate)
7338@1796643125.894253:vmstate_downtime_checkpoint src-vm-stopped
7338@1796643125.895082:migrate_set_state new state device
7338@1796643126.073710:vmstate_downtime_checkpoint src-iterable-saved
7338@1796643126.077595:vmstate_downtime_checkpoint src-non-iterable-saved
7338@1796643126.077629:vmstate_downtime_checkpoint src-downtime-end
7338@1796643126.077634:migrate_set_state new state completed
7338@1796643126.077731:runstate_set current_run_state 7 (finish-migrate) new_state 5 (postmigrate)`;

/** The first line is written at migrate-incoming, the rest while the guest arrives. */
const DESTINATION = `6539@1796643120.507425:migrate_set_state new state setup
6539@1796643120.532200:migrate_set_state new state active
6539@1796643126.102639:vmstate_downtime_checkpoint dst-precopy-loadvm-completed
6539@1796643126.102707:vmstate_downtime_checkpoint dst-precopy-bh-enter
6539@1796643126.102725:vmstate_downtime_checkpoint dst-precopy-bh-announced
6539@1796643126.104369:runstate_set current_run_state 1 (inmigrate) new_state 9 (running)
6539@1796643126.104764:vmstate_downtime_checkpoint dst-precopy-bh-vm-started
6539@1796643126.104771:migrate_set_state new state completed`;

const parse = (text: string): TraceEvent[] => text.split('\n').map((line, i) => parseTraceLine(line, i + 1)!);

export type Side = 'source' | 'destination';

/** A trace line of the recording, with the side that wrote it; times in µs on that side's clock. */
export interface RecordedLine extends TraceEvent {
  side: Side;
}

export const RECORDED = {
  sourceBoot: parse(SOURCE_BOOT)[0],
  /** Both sides' lines of the migration, in time order. */
  lines: [...parse(SOURCE).map((e) => ({ ...e, side: 'source' as const })), ...parse(DESTINATION).map((e) => ({ ...e, side: 'destination' as const }))].sort(
    (a, b) => a.timeUs - b.timeUs,
  ) as RecordedLine[],
  /** How long after its migrate_set_state trace line QEMU stamped the QMP MIGRATION event (µs, from the record's windows). */
  eventLagUs: { source: { setup: 52, completed: 10 }, destination: { completed: 8 } } as Record<Side, Record<string, number>>,
  /** query-migrate on the source once the migration completed. */
  queryMigrate: {
    status: 'completed',
    'setup-time': 3,
    downtime: 184,
    'total-time': 5549,
    ram: {
      transferred: 561025663,
      normal: 136582,
      duplicate: 36800,
      'dirty-sync-count': 4,
      mbps: 809.2688972232239,
      'precopy-bytes': 467645583,
      'downtime-bytes': 93218904,
    },
  },
  /** The destination's QMP greeted this long after it was started (ms). */
  destinationQmpReadyMs: 1010,
  /** What the harness recorded from these traces and events in the real run. */
  record: {
    metrics: { runstate: 210.6, checkpoint: 211.062 },
    migrationSpanMs: 5576.699,
    anchors: { runstate: { start: 5, end: 6 }, checkpoint: { start: 4, end: 7 } },
  },
};
