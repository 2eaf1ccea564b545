module github.com/stoq-go/stoq/cli

go 1.26
