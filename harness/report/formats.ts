/** Report formats, kept apart from the renderers so the CLI can list them without loading Vega. */
export const REPORT_FORMATS = ['text', 'md', 'html', 'json'] as const;
export type ReportFormat = (typeof REPORT_FORMATS)[number];
