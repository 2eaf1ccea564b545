package core

// Version is the version of the core: the stoQ API level plugins are built
// against and their min_stoq_version is checked against.
const Version = "3.0.0"
