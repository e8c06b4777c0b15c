// Lint rules: the recommended sets of ESLint and typescript-eslint, with
// formatting left to prettier (eslint-config-prettier turns its rules off).
import js from '@eslint/js';
import prettier from 'eslint-config-prettier';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'coverage/', 'data/', 'bench/results/', 'node_modules/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      // A variable set once but read by a closure before that (a server's handler) stays let.
      'prefer-const': ['error', { ignoreReadBeforeAssign: true }],
      // An unused argument named with a leading underscore is a signature kept on purpose.
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
    },
  },
  // The console runs in the browser.
  { files: ['ui/src/**'], languageOptions: { globals: { ...globals.browser } } },
  prettier,
);
