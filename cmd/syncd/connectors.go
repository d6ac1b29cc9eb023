package main

// The source types this binary supports; each registers itself.
import (
	_ "github.com/syncd/syncd/connectors/imap"
	_ "github.com/syncd/syncd/connectors/share"
	_ "github.com/syncd/syncd/connectors/sharepoint"
)
