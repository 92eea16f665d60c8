/**
 * Symlinks inside an image folder's class folders. A link to ".." once turned 16 images into 656
 * (the walk went round the loop until paths grew too long) and counted class-b images as class a.
 * Links are still followed, but never into a folder the walk has been in, the split folder or an
 * ancestor, or another class's folder; a link to images kept elsewhere still counts, once.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Dataset } from '../lib';
import { tempDir } from './helpers/native';
import { pngBytes } from './helpers/crafted';

function images(dir: string, names: string[]): void {
  fs.mkdirSync(dir, { recursive: true });
  for (const n of names) fs.writeFileSync(path.join(dir, n), pngBytes(8, 8));
}

describe('image folders with symlinks', () => {
  it('counts every image once, in its own class, through loops and links to other classes', () => {
    const base = tempDir('folder-links');
    const root = path.join(base, 'data');
    images(path.join(root, 'train', 'a'), ['a0.png', 'a1.png', 'a2.png', 'a3.png']);
    images(path.join(root, 'train', 'b'), ['b0.png', 'b1.png', 'b2.png', 'b3.png']);
    images(path.join(root, 'train', 'a', 'nested'), ['n0.png']);
    images(path.join(root, 'val', 'a'), ['va.png']);
    images(path.join(root, 'val', 'b'), ['vb.png']);
    images(path.join(base, 'elsewhere'), ['e0.png', 'e1.png']); // outside the data set
    const a = path.join(root, 'train', 'a');
    fs.symlinkSync('.', path.join(a, 'self')); // a loop
    fs.symlinkSync('..', path.join(a, 'up')); // the split folder: class b's images
    fs.symlinkSync('../..', path.join(a, 'top')); // the data set's root
    fs.symlinkSync('../b', path.join(a, 'sibling')); // another class
    fs.symlinkSync('..', path.join(a, 'nested', 'back')); // a loop one level down
    fs.symlinkSync('dangling-loop', path.join(a, 'dangling-loop')); // ELOOP when followed
    fs.symlinkSync(path.join(base, 'elsewhere'), path.join(a, 'ext')); // followed: class a's images kept elsewhere
    fs.symlinkSync(path.join(base, 'elsewhere'), path.join(a, 'ext2')); // the same folder again: not twice

    const ds = Dataset.open({ kind: 'image-folder', root, split: 'train', augment: false, imageSize: 8, resize: 8 });
    const listed = Array.from({ length: ds.size }, (_, i) => [path.relative(root, ds.source(i)), ds.labels()[i]]);
    expect(listed).toEqual([
      ['train/a/a0.png', 0],
      ['train/a/a1.png', 0],
      ['train/a/a2.png', 0],
      ['train/a/a3.png', 0],
      ['train/a/ext/e0.png', 0],
      ['train/a/ext/e1.png', 0],
      ['train/a/nested/n0.png', 0],
      ['train/b/b0.png', 1],
      ['train/b/b1.png', 1],
      ['train/b/b2.png', 1],
      ['train/b/b3.png', 1],
    ]);
    const t = ds.get(4);
    expect(t.shape).toEqual([3, 8, 8]);
    t.dispose();
    ds.dispose();
  });
});
