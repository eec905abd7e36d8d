// ESLint (flat config) with typescript-eslint: general hygiene everywhere, type-aware rules that
// keep `any` from spreading and promises from being dropped, and for the code that ships
// (harness/, bench/, bin/) limits that keep functions and parameter lists short. Import cycles
// and layer direction are checked by dependency-cruiser, not here.
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
    // Type-aware: the compiler's types (tsconfig.json; bin/'s JavaScript through a default project)
    // tell where an `any` is read, passed on or returned, and where a promise is left unawaited.
    files: ['harness/**/*.ts', 'bench/**/*.ts', 'testbed/**/*.ts', 'test/**/*.ts', 'bin/**/*.js'],
    languageOptions: { parserOptions: { projectService: { allowDefaultProject: ['bin/*.js'] }, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-unsafe-argument': 'error',
      '@typescript-eslint/no-unsafe-assignment': 'error',
      '@typescript-eslint/no-unsafe-call': 'error',
      '@typescript-eslint/no-unsafe-member-access': 'error',
      '@typescript-eslint/no-unsafe-return': 'error',
      '@typescript-eslint/no-unsafe-enum-comparison': 'error',
      '@typescript-eslint/no-unsafe-unary-minus': 'error',
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/await-thenable': 'error',
    },
  },
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
