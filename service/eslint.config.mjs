// ESLint for the service: the recommended rules of ESLint and typescript-eslint, as the
// plugin's configuration builds on them, with the choices below. Formatting is not
// linted: the code keeps its own style.
import js from '@eslint/js';
import tsPlugin from '@typescript-eslint/eslint-plugin';
import globals from 'globals';

export default [
  { ignores: ['node_modules/', 'bench/reports/', '.data/'] },
  js.configs.recommended,
  ...tsPlugin.configs['flat/recommended'],
  {
    languageOptions: { globals: { ...globals.node }, ecmaVersion: 2022 },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      // A leading underscore marks a parameter or element that is there for its position.
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_', caughtErrors: 'none' },
      ],
      // Input validation matches control characters on purpose (NUL, which PostgreSQL
      // text cannot hold).
      'no-control-regex': 'off',
    },
  },
  {
    // Tests and benchmarks read JSON answers whose shape the assertions or reports check.
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  {
    files: ['**/*.js', '**/*.cjs'],
    languageOptions: { sourceType: 'commonjs' },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
];
