module github.com/stoq-go/stoq/plugins/elasticsearch

go 1.26
