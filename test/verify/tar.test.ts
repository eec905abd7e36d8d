import test from 'ava';
import { execa } from 'execa';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ArchiveError, readTar, tarBytes, writeTarGz } from '../../harness/verify/tar.ts';

const entries = [
  { name: 'run/a.txt', data: Buffer.from('hello\n') },
  { name: `run/${'deep/'.repeat(30)}long-name-past-one-hundred-bytes.log`, data: Buffer.alloc(1000, 'x') },
  { name: 'run/empty', data: Buffer.alloc(0) },
];

test('tar: what writeTarGz writes, readTar and GNU tar read back, long names included', async (t) => {
  const bytes = writeTarGz(entries);
  t.deepEqual(
    readTar(bytes).map((e) => [e.name, e.data.toString()]),
    entries.map((e) => [e.name, e.data.toString()]),
  );
  const dir = await mkdtemp(join(tmpdir(), 'vb-tar-'));
  await writeFile(join(dir, 'x.tar.gz'), bytes);
  const listing = await execa('tar', ['tzvf', join(dir, 'x.tar.gz')]);
  t.is(listing.stdout.split('\n').length, 3);
  t.regex(listing.stdout, /^-rw-r--r-- root\/root +6 1970-01-01 00:00 run\/a\.txt$/m);
  await execa('tar', ['xzf', join(dir, 'x.tar.gz'), '-C', dir]);
  t.is(await readFile(join(dir, entries[1].name), 'utf8'), 'x'.repeat(1000));
});

test('tar: the same entries give the same bytes; a damaged header is an error, not a short list', (t) => {
  t.true(writeTarGz(entries).equals(writeTarGz(entries)));
  const tar = tarBytes(entries);
  tar[10] ^= 1;
  t.throws(() => readTar(tar), { instanceOf: ArchiveError, message: /bad checksum/ });
});
