/** Vega-Lite spec → SVG text, headless (no DOM, no canvas, no network): the HTML report embeds the result inline. */
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';

export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const compiled = compile(spec).spec;
  // A loader that refuses everything: specs carry their data inline, and a report must not fetch.
  const loader = vega.loader();
  loader.load = async (uri: string) => {
    throw new Error(`chart data must be inline (refused to load ${uri})`);
  };
  const view = new vega.View(vega.parse(compiled), { renderer: 'none', loader });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}
