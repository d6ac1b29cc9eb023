// Package histdb holds the end-to-end tests and measurements of history
// rebuilding against a real catalog: synthetic sightings stored in SQLite,
// loaded, rebuilt and written back by engine.Rebuild.
package histdb
