import test from 'ava';
import { Duplex } from 'node:stream';
import { QmpClient } from '../../harness/qemu/qmp.ts';

/** Two ends of an in-memory socket. */
function socketPair(): [Duplex, Duplex] {
  const ends: Duplex[] = [];
  const make = (peer: number) =>
    new Duplex({
      read() {},
      write(chunk, _enc, done) {
        ends[peer].push(chunk);
        done();
      },
    });
  ends.push(make(1), make(0));
  return [ends[0], ends[1]];
}

test('the first command goes out as soon as the socket is connected; the greeting and its answer are timed apart', async (t) => {
  const [client, server] = socketPair();
  server.setEncoding('utf8');
  const received: { line: string; greeted: boolean }[] = [];
  let greeted = false;
  server.on('data', (chunk: string) => {
    for (const line of chunk.split('\n').filter(Boolean)) {
      received.push({ line, greeted });
      const { id } = JSON.parse(line) as { id: string };
      // a QEMU still busy in its main loop: the answer comes 150 ms after the greeting
      setTimeout(() => server.write(JSON.stringify({ return: {}, id }) + '\r\n'), 200);
    }
  });
  setTimeout(() => {
    greeted = true;
    server.write(JSON.stringify({ QMP: { version: { qemu: { major: 11, minor: 1, micro: 3 } }, capabilities: [] } }) + '\r\n');
  }, 50);
  const start = performance.now();
  const qmp = await QmpClient.connect(client, 5_000);
  t.is(received.length, 1);
  t.false(received[0].greeted, 'qmp_capabilities was sent before the greeting arrived');
  t.regex(received[0].line, /"execute":"qmp_capabilities"/);
  const { greetingAt, firstAnswerAt } = qmp.startup!;
  t.true(greetingAt - start >= 45 && greetingAt - start < 150, `greeting after ${greetingAt - start} ms`);
  t.true(firstAnswerAt - greetingAt >= 100, `answer ${firstAnswerAt - greetingAt} ms after the greeting`);
  qmp.close();
});

test('a socket that closes before the greeting fails connect without an unhandled rejection', async (t) => {
  const [client, server] = socketPair();
  setTimeout(() => client.destroy(), 20);
  void server;
  await t.throwsAsync(QmpClient.connect(client, 2_000), { name: 'QmpClosedError' });
});
