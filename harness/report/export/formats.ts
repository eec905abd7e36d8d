/** Report formats, kept apart from the renderers so the CLI can list them without loading Vega. */
export const REPORT_FORMATS = ['text', 'md', 'html', 'json', 'png'] as const;
export type ReportFormat = (typeof REPORT_FORMATS)[number];
/** What `report`, `compare` and `run` write unless told: png needs Chromium, so it is asked for by name. */
export const DEFAULT_REPORT_FORMATS: readonly ReportFormat[] = ['text', 'md', 'html', 'json'];
