/**
 * Reading an experiment config file: JSON, or YAML for a .yaml/.yml file (its errors with the key's
 * line), validated by parseExperimentConfig, with relative data and weight paths made absolute so
 * every run and every resume reads the same files.
 */
import * as fs from 'fs';
import * as path from 'path';
import { ExperimentConfigError, type ExperimentConfig } from './config';
import { parseExperimentConfig } from './parse-config';
import { parseYamlConfig } from './yaml-config';

/** Whether a config file is YAML (by its extension, .yaml or .yml); anything else is read as JSON. */
export const isYamlConfig = (file: string): boolean => /\.ya?ml$/i.test(file);

/** Reads and validates an experiment config file: JSON, or YAML for a .yaml/.yml file. */
export function readExperimentConfig(file: string): ExperimentConfig {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new ExperimentConfigError(
      '',
      `cannot read the config: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
      file,
    );
  }
  // Editors on Windows save UTF-8 with a byte-order mark, which JSON.parse rejects.
  text = text.replace(/^\uFEFF/, '');
  let config: ExperimentConfig;
  if (isYamlConfig(file)) {
    const yaml = parseYamlConfig(text, file);
    try {
      config = parseExperimentConfig(yaml.value, file);
    } catch (err) {
      // The same key-path error, with the line of that key (or of the nearest enclosing one there is).
      if (err instanceof ExperimentConfigError && err.line === undefined)
        throw new ExperimentConfigError(err.keyPath, err.detail, file, yaml.lineOf(err.keyPath));
      throw err;
    }
  } else {
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (err) {
      throw new ExperimentConfigError('', `not valid JSON: ${(err as Error).message}`, file);
    }
    config = parseExperimentConfig(json, file);
  }
  // A relative weight file is looked up next to the config file first (when the file is there;
  // otherwise relative to the working directory), and made absolute so a resume from another
  // directory trains on the same file.
  const base = path.dirname(path.resolve(file));
  // A relative data folder (kind:DIR or DIR) is relative to the working directory, as on the command
  // line, and is stored absolute so every run and every resume reads the same folder.
  const m = /^([a-z][a-z0-9_-]*):(.+)$/i.exec(config.data.source);
  if (m && !path.isAbsolute(m[2]!)) config.data.source = `${m[1]}:${path.resolve(m[2]!)}`;
  else if (
    !m &&
    (config.data.source.includes('/') || fs.existsSync(config.data.source)) &&
    !path.isAbsolute(config.data.source)
  ) {
    config.data.source = path.resolve(config.data.source);
  }
  if (config.model.initWeights && !path.isAbsolute(config.model.initWeights)) {
    const candidate = path.resolve(base, config.model.initWeights);
    config.model.initWeights = fs.existsSync(candidate) ? candidate : path.resolve(config.model.initWeights);
  }
  return config;
}
