/**
 * The one escape for markup: the HTML report, the nightly page and the JUnit XML. Every string
 * from a profile, a trace or a record goes through here before it lands in one of them. Control
 * characters XML 1.0 cannot hold (all below 0x20 except tab, newline and carriage return) are
 * dropped, so a stray byte in a QEMU error message cannot make a JUnit file unreadable.
 */
const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeMarkup(value: unknown): string {
  return String(value ?? '')
    .replace(/[&<>"']/g, (c) => ENTITIES[c])
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g, '');
}
