// Command ferretdb-embedded runs FerretDB 1.x (embedded package) on PostgreSQL or SQLite.
package main

import (
	"context"
	"flag"
	"log"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/FerretDB/FerretDB/ferretdb"
)

func main() {
	listen := flag.String("listen-addr", "127.0.0.1:27017", "TCP listen address (empty: none)")
	listenTLS := flag.String("listen-tls", "", "TLS listen address (empty: none)")
	tlsCert := flag.String("tls-cert-file", "", "TLS certificate file (PEM)")
	tlsKey := flag.String("tls-key-file", "", "TLS private key file (PEM)")
	handler := flag.String("handler", "postgresql", "backend: postgresql or sqlite")
	sqliteURL := flag.String("sqlite-url", "file:data/", "SQLite directory URI")
	// The PostgreSQL URL may hold a password: it comes from the environment by default.
	pgURL := flag.String("postgresql-url", os.Getenv("FERRETDB_POSTGRESQL_URL"), "PostgreSQL URL")
	// Not used by the server: devstack finds its own processes by this flag.
	flag.String("stack-dir", "", "the devstack folder this server belongs to")
	flag.Parse()

	f, err := ferretdb.New(&ferretdb.Config{
		Listener: ferretdb.ListenerConfig{
			TCP:         *listen,
			TLS:         *listenTLS,
			TLSCertFile: *tlsCert,
			TLSKeyFile:  *tlsKey,
		},
		Logger:        slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
		Handler:       *handler,
		SQLiteURL:     *sqliteURL,
		PostgreSQLURL: *pgURL,
	})
	if err != nil {
		log.Fatal(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log.Printf("ferretdb listening on %q (tcp) %q (tls)", *listen, *listenTLS)
	f.Run(ctx)
}
