//! Session domain (being written).
