/** The profile's migration.port and migration.firewall: where a destination listens, and what the harness may do about a firewall in the way. */
import { z } from 'zod';

export const migrationPortFields = {
  port: z
    .number()
    .int()
    .min(0)
    .max(65535)
    .default(0)
    .describe("The destination's listening port (migrate-incoming tcp:ADDR:PORT); 0 lets QEMU pick an ephemeral one, which a firewall blocks"),
  firewall: z
    .enum(['check', 'open'])
    .default('check')
    .describe(
      'A destination whose firewall (firewalld, nftables) blocks the port: check stops at preflight with the command that opens it; open lets set-up open it for the run (a runtime rule, in the ledger, removed at teardown)',
    ),
};
