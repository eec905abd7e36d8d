/** The README stays short, and no page links to a file that is not there. */
import test from 'ava';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { REPO } from './helpers/cli.ts';

const README_LIMIT = 15 * 1024;

function markdownFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'examples' ? [] : markdownFiles(path); // examples are recorded runs, not pages
    return entry.name.endsWith('.md') ? [path] : [];
  });
}

/** Relative link targets of a Markdown text, without anchors; code spans and fenced blocks are not links. */
export function relativeLinks(markdown: string): string[] {
  const prose = markdown.replace(/```[\s\S]*?```/g, '').replace(/`[^`\n]*`/g, '');
  return [...prose.matchAll(/!?\[[^\]]*\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)]
    .map((m) => m[1])
    .filter((target) => !/^[a-z][a-z0-9+.-]*:/i.test(target) && !target.startsWith('#'))
    .map((target) => decodeURIComponent(target.split('#')[0]));
}

test('README.md is under 15 KB', (t) => {
  const size = statSync(join(REPO, 'README.md')).size;
  t.true(size < README_LIMIT, `README.md is ${size} bytes; move detail into docs/`);
});

test('every relative link in README.md and docs/ points at an existing file', (t) => {
  const pages = [join(REPO, 'README.md'), ...markdownFiles(join(REPO, 'docs'))];
  t.true(pages.length >= 6, 'README.md and the docs pages are found');
  const broken = pages.flatMap((page) =>
    relativeLinks(readFileSync(page, 'utf8'))
      .filter((target) => !existsSync(join(dirname(page), target)))
      .map((target) => `${relative(REPO, page)} -> ${target}`),
  );
  t.deepEqual(broken, []);
});

test('the link finder sees links and images, and skips URLs, anchors and code', (t) => {
  const text = [
    '[a](docs/a.md#part) ![img](docs/i.png "title") [web](https://example.org) [here](#top)',
    '`[not](a link.md)`',
    '```',
    '[nor](this.md)',
    '```',
  ].join('\n');
  t.deepEqual(relativeLinks(text), ['docs/a.md', 'docs/i.png']);
});
