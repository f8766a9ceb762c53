//! Sistema TS simulator (being written).
