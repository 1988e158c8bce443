// Errors of the configuration file and the saved state: user errors that name the file and the
// field (firmware/errors.ts lists them). Kept apart from the loaders so that naming them costs
// nothing (the loaders compile a schema).

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(readonly file: string, readonly field: string, detail: string) {
    super(`${file}: ${field || '(top level)'}: ${detail}`);
  }
}

export class StateError extends Error {
  override readonly name = 'StateError';
  constructor(readonly file: string, readonly field: string, detail: string) {
    super(`${file}: ${field ? `${field}: ` : ''}${detail}`);
  }
}
