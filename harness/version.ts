/** The harness version, recorded in every manifest (kept apart so the CLI can print it without loading the engine). */
export const TOOL_VERSION = '0.1.0';
