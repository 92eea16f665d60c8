// Runs in every test file: its temporary folders (helpers/native.ts tempDir) go when its tests end.
import { afterAll } from 'vitest';
import { removeTempDirs } from '../helpers/native';

afterAll(removeTempDirs);
