// ESLint (flat config) with typescript-eslint: general hygiene everywhere, and for the code that
// ships (harness/, bench/, bin/) limits that keep functions and parameter lists short. Import
// cycles and layer direction are checked by dependency-cruiser, not here.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'results/', 'reports/', 'test/fixtures/', 'docs/examples/', '.dependency-cruiser.cjs'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    // Node's globals for the plain JavaScript in bin/; in TypeScript the compiler checks names
    languageOptions: {
      ecmaVersion: 2022,
      sourceType: 'module',
      globals: { process: 'readonly', console: 'readonly', URL: 'readonly', performance: 'readonly' },
    },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      // `_name` marks a parameter or binding kept for its position or shape
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      eqeqeq: ['error', 'always', { null: 'ignore' }],
      'no-var': 'error',
      'prefer-const': 'error',
      // control characters in a character class are the point where output is sanitised (JUnit XML, terminal text)
      'no-control-regex': 'off',
    },
  },
  { files: ['**/*.ts'], rules: { 'no-undef': 'off' } },
  {
    files: ['harness/**/*.ts', 'bench/**/*.ts', 'bin/**/*.js'],
    rules: {
      // a function longer than a screen does more than one thing: name its steps
      'max-lines-per-function': ['error', { max: 60, skipBlankLines: true, skipComments: true, IIFEs: true }],
      // more than four positional parameters: pass a context object with named fields
      'max-params': ['error', 4],
      // the project's standard: no harness file over 400 lines
      'max-lines': ['error', { max: 400, skipBlankLines: false, skipComments: false }],
    },
  },
);
