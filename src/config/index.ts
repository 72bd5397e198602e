/**
 * The configuration's public face (docs/configuration.md): load it, its type, its one error, and
 * the settings table the defaults come from. The folder: types.ts (Config, ConfigError),
 * defaults.ts (every key: variable, default, meaning), schema.ts (the file's shape), env.ts,
 * upstreams.ts, profiles.ts (profiles, models, budget checks), yaml.ts, load.ts (assembly).
 */
export { loadConfig, loadConfigFromObject, loadConfigFromYaml } from './load.js';
export { ConfigError, LOG_LEVELS, REASONING_FIELDS, UPSTREAM_KINDS } from './types.js';
export type { Config, LogLevel, ModelRule, ReasoningField, UpstreamConfig, UpstreamKind } from './types.js';
export type { ConfigEnv } from './env.js';
export { defaultOpenText } from './profiles.js';
export { SETTINGS, defaultOf, envOf, formatDefault, type Setting, type SettingKey } from './defaults.js';
