// Imported by lab.ts BEFORE testcontainers: the Ryuk reaper image cannot be
// pulled on the project's machines, so the harness cleans up by itself.
process.env['TESTCONTAINERS_RYUK_DISABLED'] ??= 'true';
export {};
