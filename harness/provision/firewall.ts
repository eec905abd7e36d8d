/**
 * The migration port and the destination's firewall. RHEL runs firewalld by default: its zones
 * reject a connection to a port they do not list, so an ephemeral port (migration.port 0) or a
 * fixed one nobody opened makes the migration hang until its timeout. Preflight reads the
 * firewall (firewalld, else an nftables input chain whose policy drops) and either lets set-up
 * open the port for the run (migration.firewall: open; a runtime rule, in the ledger, removed at
 * teardown) or stops with the exact command that would open it.
 */
import { script, type HostCommand } from '../hosts/command.ts';
import { shellJoin, type RunResult } from '../hosts/transport.ts';
import { RECORDED, type ProvisionStep } from './steps.ts';

export interface MigrationPort {
  /** The destination's migration address (where QEMU listens). */
  address: string;
  /** migration.port; 0 lets QEMU pick an ephemeral one. */
  port: number;
  /** migration.firewall: `check` stops with the command, `open` opens the port for the run. */
  firewall: 'check' | 'open';
}

/**
 * What guards the address: firewalld (the zone of the interface holding it, else the default
 * zone, and that zone's runtime settings), else nftables' whole ruleset as JSON, else nothing.
 */
const FIREWALL_STATE = String.raw`
# the system's tools first: run through npm, PATH starts with node_modules/.bin, which has an unrelated "nft"
PATH=/usr/sbin:/usr/bin:/sbin:/bin:$PATH
addr=$1
iface=$(ip -o addr show to "$addr" 2>/dev/null | awk '{print $2; exit}')
if command -v firewall-cmd >/dev/null 2>&1 && [ "$(firewall-cmd --state 2>/dev/null)" = running ]; then
  zone=
  [ -n "$iface" ] && zone=$(firewall-cmd --get-zone-of-interface="$iface" 2>/dev/null)
  [ -n "$zone" ] || zone=$(firewall-cmd --get-default-zone 2>/dev/null)
  echo "firewalld $zone $iface"
  firewall-cmd --info-zone="$zone" 2>&1
elif command -v nft >/dev/null 2>&1 && nft -j list ruleset >/dev/null 2>&1; then
  echo "nftables - $iface"
  nft -j list ruleset
else
  echo "none - $iface"
fi
`;

export type FirewallState =
  | { kind: 'none' }
  | { kind: 'firewalld'; zone: string; open: boolean; why: string }
  | { kind: 'nftables'; open: boolean; why: string; chain?: { family: string; table: string; name: string } };

/** The comment on a rule the harness adds to nftables: how teardown finds it again. */
export const NFT_COMMENT = 'vdpa-bench migration port';

/** Whether the port is reachable on the address, from FIREWALL_STATE's output (pure). */
export function firewallState(stdout: string, port: number): FirewallState {
  const [head = '', ...rest] = stdout.split('\n');
  const [kind, zone = '', iface = ''] = head.trim().split(' ');
  // loopback is accepted by firewalld's own rules and by any sane ruleset
  if (kind === 'none' || iface === 'lo') return { kind: 'none' };
  if (kind === 'firewalld') {
    const info = rest.join('\n');
    const field = (name: string) => new RegExp(`^\\s*${name}:[ \\t]*(.*)$`, 'm').exec(info)?.[1].trim() ?? '';
    const target = field('target');
    if (!target)
      return {
        kind: 'firewalld',
        zone,
        open: false,
        why: `cannot tell whether zone ${zone} lets it in (firewall-cmd --info-zone: ${info.trim() || 'no output'})`,
      };
    if (target === 'ACCEPT') return { kind: 'firewalld', zone, open: true, why: `zone ${zone} accepts everything (target ACCEPT)` };
    const listed = field('ports')
      .split(/\s+/)
      .filter(Boolean)
      .some((p) => portInSpec(p, port));
    return { kind: 'firewalld', zone, open: port !== 0 && listed, why: listed ? `zone ${zone} lists ${port}/tcp` : `zone ${zone} does not list ${port}/tcp` };
  }
  return nftablesState(rest.join('\n'), port);
}

function portInSpec(spec: string, port: number): boolean {
  const m = /^(\d+)(?:-(\d+))?\/tcp$/.exec(spec);
  return !!m && port >= Number(m[1]) && port <= Number(m[2] ?? m[1]);
}

interface NftChain {
  family: string;
  table: string;
  name: string;
  hook?: string;
  policy?: string;
}
interface NftRule {
  family: string;
  table: string;
  chain: string;
  expr?: unknown[];
}

/** An nftables ruleset: blocked when an input chain's policy drops and none of its rules accepts tcp dport PORT. */
function nftablesState(json: string, port: number): FirewallState {
  let items: Record<string, unknown>[] = [];
  try {
    items = (JSON.parse(json) as { nftables?: Record<string, unknown>[] }).nftables ?? [];
  } catch {
    return { kind: 'nftables', open: false, why: 'nft -j list ruleset did not print JSON: cannot tell whether the port is open' };
  }
  const chains = items.flatMap((i) => (i.chain ? [i.chain as NftChain] : [])).filter((c) => c.hook === 'input' && c.policy === 'drop');
  if (chains.length === 0) return { kind: 'none' };
  const rules = items.flatMap((i) => (i.rule ? [i.rule as NftRule] : []));
  for (const c of chains) {
    const accepts = rules.some((r) => r.family === c.family && r.table === c.table && r.chain === c.name && acceptsPort(r.expr ?? [], port));
    if (!accepts)
      return { kind: 'nftables', open: false, why: `chain ${c.family} ${c.table} ${c.name} drops by policy and accepts no tcp dport ${port}`, chain: c };
  }
  return { kind: 'nftables', open: port !== 0, why: `every input chain that drops accepts tcp dport ${port}` };
}

function acceptsPort(expr: unknown[], port: number): boolean {
  const text = JSON.stringify(expr);
  if (!text.includes('"accept"') || !text.includes('"dport"')) return false;
  return expr.some((e) => {
    const match = (e as { match?: { left?: { payload?: { protocol?: string; field?: string } }; right?: unknown } }).match;
    if (match?.left?.payload?.protocol !== 'tcp' || match.left.payload.field !== 'dport') return false;
    const right = match.right as number | { set?: unknown[]; range?: [number, number] };
    if (typeof right === 'number') return right === port;
    if (right && 'range' in right && right.range) return port >= right.range[0] && port <= right.range[1];
    if (right && 'set' in right && right.set)
      return right.set.some(
        (v) =>
          v === port ||
          (typeof v === 'object' && v !== null && 'range' in v && port >= (v as { range: number[] }).range[0] && port <= (v as { range: number[] }).range[1]),
      );
    return false;
  });
}

/** The command that opens the port for the run (runtime only: a reboot or reload forgets it), as a lab engineer would type it. */
export function openPortArgv(state: FirewallState | undefined, port: number): string[] | undefined {
  if (!state || state.kind === 'firewalld') return ['firewall-cmd', `--zone=${state?.kind === 'firewalld' ? state.zone : 'ZONE'}`, `--add-port=${port}/tcp`];
  if (state.kind === 'nftables' && state.chain) {
    const c = state.chain;
    return ['nft', 'insert', 'rule', c.family, c.table, c.name, 'tcp', 'dport', String(port), 'accept', 'comment', `"${NFT_COMMENT}"`];
  }
  return undefined;
}

/** Runs a firewall tool with the system's PATH first (see FIREWALL_STATE); its arguments arrive as "$@". */
const SYSTEM_TOOL = String.raw`
PATH=/usr/sbin:/usr/bin:/sbin:/bin:$PATH
exec "$@"
`;

function systemTool(args: string[] | undefined, options: { allowFailure?: boolean } = {}): HostCommand[] {
  return args ? [script(SYSTEM_TOOL, args, options)] : [];
}

/** Deletes the rules of a chain that carry the harness's comment (found by handle: nft deletes only by handle). */
const NFT_REMOVE = String.raw`
PATH=/usr/sbin:/usr/bin:/sbin:/bin:$PATH
nft -a list chain "$1" "$2" "$3" | awk -v c="comment \"$4\"" 'index($0, c) { print $NF }' | while read -r h; do nft delete rule "$1" "$2" "$3" handle "$h"; done
`;

/** A preflight check (preflight.ts's HostCheck): null when the port is reachable or set-up will open it. */
export function firewallCheck(m: MigrationPort): { name: string; command: HostCommand; evaluate(r: RunResult): string | null } {
  return {
    name: `migration port ${m.port === 0 ? '(ephemeral)' : `${m.port}/tcp`} through the firewall to ${m.address}`,
    command: script(FIREWALL_STATE, [m.address], { allowFailure: true }),
    evaluate: (r: RunResult) => {
      const state = firewallState(r.stdout, m.port);
      if (state.kind === 'none' || state.open) return null;
      const guard = state.kind === 'firewalld' ? `firewalld (zone ${state.zone})` : 'nftables';
      if (m.port === 0)
        return `${guard} guards ${m.address} (${state.why}) and migration.port is 0: QEMU would listen on an ephemeral port the firewall blocks; set migration.port (e.g. 49152) and migration.firewall: open, or open that port yourself`;
      if (m.firewall === 'open') return null;
      const open = openPortArgv(state, m.port);
      return `the migration port ${m.port}/tcp is blocked on ${m.address} by ${guard}: ${state.why}. Open it for the run: ${open ? shellJoin(open) : `add an accept rule for tcp dport ${m.port}`}; or let the harness open it and close it at teardown: migration.firewall: open`;
    },
  };
}

/** Set-up's step (migration.firewall: open, a fixed port): the port opened when the firewall blocks it; teardown removes the rule. */
export function firewallStep(m: MigrationPort): ProvisionStep {
  return {
    id: `firewall:${m.address}:${m.port}`,
    title: `migration port ${m.port}/tcp open to ${m.address} for the run`,
    check: script(FIREWALL_STATE, [m.address], { allowFailure: true }),
    inspect: (r) => {
      const state = firewallState(r.stdout, m.port);
      if (state.kind === 'none') return { satisfied: true, state: 'none', detail: 'no firewall guards it' };
      const recorded =
        state.kind === 'firewalld'
          ? `firewalld ${state.zone}`
          : `nftables ${state.chain ? `${state.chain.family} ${state.chain.table} ${state.chain.name}` : '-'}`;
      return { satisfied: state.open, state: recorded, detail: state.why };
    },
    apply: (found) => systemTool(openPortArgv(found ? stateOf(found.state) : undefined, m.port)),
    undo: (previous) => {
      const state = previous === undefined ? undefined : stateOf(previous);
      if (!state || state.kind === 'firewalld')
        return systemTool(['firewall-cmd', `--zone=${state?.kind === 'firewalld' ? state.zone : RECORDED}`, `--remove-port=${m.port}/tcp`], {
          allowFailure: true,
        });
      if (state.kind === 'nftables' && state.chain) return [script(NFT_REMOVE, [state.chain.family, state.chain.table, state.chain.name, NFT_COMMENT])];
      return [];
    },
  };
}

/** The ledger's state string back as the firewall it names. */
function stateOf(recorded: string): FirewallState {
  const [kind, a = '', b = '', c = ''] = recorded.split(' ');
  if (kind === 'firewalld') return { kind, zone: a, open: false, why: '' };
  if (kind === 'nftables' && c) return { kind, open: false, why: '', chain: { family: a, table: b, name: c } };
  return { kind: 'none' };
}
