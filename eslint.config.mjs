// ESLint flat config: the recommended rules of @eslint/js and typescript-eslint for every source file
// in the repository. `npm run lint` fails on warnings too; .ci/run runs it before the tests.
import js from '@eslint/js';
import { defineConfig, globalIgnores } from 'eslint/config';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default defineConfig(
  globalIgnores([
    'node_modules/',
    'dist/',
    'cdk.out/',
    'cdktf.out/',
    'coverage/',
    'test/e2e/.cache/',
    // JavaScript the bench transpiles before each run (gitignored).
    'bench/.build/',
    // The jsii build's staging folder (scripts/jsii.js; gitignored).
    '.jsii-build/',
    // Written by scripts/generate-sagemaker-images.ts (the generator itself is linted).
    'lib/targets/sagemaker/image-catalog.generated.ts',
  ]),
  js.configs.recommended,
  tseslint.configs.recommended,
  {
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    languageOptions: {
      ecmaVersion: 2022,
      sourceType: 'commonjs',
      globals: { ...globals.node },
    },
    rules: {
      // The package loads each target's engine (aws-cdk-lib, cdktf: optional peers) only when that
      // target is used, with a typed `require(...) as typeof import(...)`; the bench times such loads,
      // and the .js scripts are plain CommonJS.
      '@typescript-eslint/no-require-imports': 'off',
      // `const { dropped: _, ...rest } = obj` is how the code leaves a key out.
      '@typescript-eslint/no-unused-vars': ['error', { ignoreRestSiblings: true, argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['**/*.ts'],
    languageOptions: { sourceType: 'module' },
  },
  {
    // A cdktf provider package's root loads every resource binding it has (about 1.1 s and 430 MB
    // each): the library and its tests import providers by deep path only, e.g.
    // '@cdktf/provider-azurerm/lib/resource-group'.
    files: ['lib/**/*.ts', 'test/**/*.ts', 'examples/**/*.ts', 'bin/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        paths: ['@cdktf/provider-azurerm', '@cdktf/provider-google', '@cdktf/provider-aws', '@cdktf/provider-azapi'].map(name => ({
          name, message: 'Import the resource by deep path (PACKAGE/lib/RESOURCE): the package root loads every binding.',
        })),
      }],
    },
  },
  {
    files: ['**/*.js'],
    // CommonJS scripts bind `const crypto = require('crypto')`, a name Node also has as a global.
    rules: { 'no-redeclare': ['error', { builtinGlobals: false }] },
  },
  {
    files: ['test/**/*.ts'],
    languageOptions: { globals: { ...globals.jest } },
    rules: {
      // Tests read synthesized templates, Terraform JSON and parsed host output, which are untyped.
      '@typescript-eslint/no-explicit-any': 'off',
    },
  },
);
