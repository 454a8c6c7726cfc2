/** Type checking is done once by `tsc --noEmit` in `npm test`; jest only transpiles. */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.tsx?$': ['ts-jest', { diagnostics: false }] },
  testTimeout: 60000,
  // cdktf's Testing helpers leave a temp directory per synth: removed after each file.
  setupFilesAfterEnv: ['<rootDir>/test/support/remove-cdktf-outdirs.ts'],
  // Two workers on two cores: the end-to-end files mostly wait on SSH, containers and timeouts.
  maxWorkers: 2,
};
