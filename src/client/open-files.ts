// Open file handles. A handle names an inode's shared FileState, so every handle of an inode sees
// the same dirty data. An unlinked file stays usable through its handles until the last release:
// the node keeps nlink-0 inodes reachable by ino until they are collected (docs/node.md), and the
// FileState lives here until then.
import { constants } from 'node:fs';
import { kerr } from '../errors.js';
import { ReadPattern } from './chunk-reader.js';
import type { FileState } from './file-writer.js';

/** Linux O_ACCMODE (node:fs does not export it). */
export const O_ACCMODE = 3;

export interface OpenFile {
  readonly fh: number;
  readonly state: FileState;
  readonly writable: boolean;
  readonly append: boolean;
  readonly pattern: ReadPattern;
}

export class OpenFiles {
  private readonly handles = new Map<number, OpenFile>();
  private nextFh = 1;

  add(state: FileState, flags: number): OpenFile {
    const access = flags & O_ACCMODE;
    const file: OpenFile = {
      fh: this.nextFh++, state, writable: access !== constants.O_RDONLY,
      append: (flags & constants.O_APPEND) !== 0, pattern: new ReadPattern(),
    };
    state.openCount++;
    this.handles.set(file.fh, file);
    return file;
  }

  get(fh: number): OpenFile {
    const file = this.handles.get(fh);
    if (file === undefined) throw kerr('InvalidArgument', `no open file with handle ${fh}`);
    return file;
  }

  /** Forgets the handle; returns its state so the caller can flush and drop it if unused. */
  remove(fh: number): FileState {
    const file = this.get(fh);
    this.handles.delete(fh);
    file.state.openCount--;
    return file.state;
  }

  get size(): number {
    return this.handles.size;
  }

  all(): OpenFile[] {
    return [...this.handles.values()];
  }
}
