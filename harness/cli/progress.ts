/** Progress while a run goes: one line per migration; on a TTY, a live status line too. */
import type { ProgressSink } from '../migration/interfaces.ts';
import { type Block, type PlannedMigration } from '../migration/schedule.ts';
import { cellLabel } from '../profile/cell.ts';
import type { IterationRecord } from '../results/types.ts';

export function formatMs(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '—';
  return ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(1)} ms`;
}

export function migrationLine(record: IterationRecord, planned: PlannedMigration, total: number, cellTotal: number): string {
  const tag = record.warmup ? `warm-up ${record.iteration}` : `${record.iteration}/${cellTotal}`;
  const head = `[${String(planned.seq).padStart(String(total).length)}/${total}] ${cellLabel(planned.cell).padEnd(24)} ${tag.padEnd(11)} ${record.from}→${record.to}`;
  if (record.status !== 'ok') return `${head}  ${record.status.toUpperCase()}: ${record.reason}`;
  const qmp = record.qmp?.downtimeMs !== undefined && record.qmp?.downtimeMs !== null ? `  qmp ${formatMs(record.qmp.downtimeMs)}` : '';
  const totalTime = record.qmp?.totalTimeMs ? `  total ${formatMs(record.qmp.totalTimeMs)}` : '';
  return `${head}  downtime ${formatMs(record.downtimeMs)} (${record.primaryMetric})${qmp}${totalTime}`;
}

export class ConsoleProgress implements ProgressSink {
  private readonly tty: boolean;
  private cellTotals = new Map<string, number>();
  constructor(
    private readonly stream: NodeJS.WriteStream = process.stderr,
    iterations = 0,
  ) {
    this.tty = Boolean(stream.isTTY) && !process.env.CI;
    this.iterations = iterations;
  }
  iterations: number;

  blockStarted(block: Block, total: number): void {
    const first = block.migrations[0];
    this.status(`booting ${cellLabel(block.cell)} (block ${block.index}, migrations ${first.seq}–${first.seq + block.migrations.length - 1} of ${total})`);
  }

  migrationDone(record: IterationRecord, planned: PlannedMigration, total: number): void {
    this.clearStatus();
    this.stream.write(migrationLine(record, planned, total, this.iterations) + '\n');
    if (this.tty && planned.seq < total) this.status(`migration ${planned.seq + 1} of ${total}…`);
  }

  note(message: string): void {
    this.clearStatus();
    this.stream.write(`${message}\n`);
  }

  private status(text: string): void {
    if (this.tty) this.stream.write(`\r\x1b[2K${text}`);
    else this.stream.write(`${text}\n`);
  }

  private clearStatus(): void {
    if (this.tty) this.stream.write('\r\x1b[2K');
  }
}
