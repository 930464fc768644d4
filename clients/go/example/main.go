// Command example publishes records to a streamgate topic over gRPC, then reads them back
// through a bidirectional Session with credit-based flow control.
//
//	go run ./example -addr 127.0.0.1:50051 -topic demo -n 3
//
// It prints one line per record received: "<partition> <offset> <key> <value>".
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	streamgatev1 "streamgate.dev/clients/go/streamgate/v1"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:50051", "gateway gRPC address")
	topic := flag.String("topic", "demo", "topic")
	n := flag.Int("n", 3, "records to publish and read back")
	flag.Parse()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	conn, err := grpc.NewClient(*addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		log.Fatalf("dial: %v", err)
	}
	defer conn.Close()
	client := streamgatev1.NewStreamGatewayClient(conn)

	// Produce: acknowledged only after the backend stored the records.
	records := make([]*streamgatev1.ProduceRecord, 0, *n)
	for i := 0; i < *n; i++ {
		records = append(records, &streamgatev1.ProduceRecord{
			Key:     []byte(fmt.Sprintf("go-%d", i)),
			Value:   []byte(fmt.Sprintf("hello from go %d", i)),
			Headers: []*streamgatev1.Header{{Key: "lang", Value: []byte("go")}, {Key: "trace", Value: []byte("a")}, {Key: "trace", Value: []byte("b")}},
		})
	}
	produced, err := client.Produce(ctx, &streamgatev1.ProduceRequest{Topic: *topic, Records: records})
	if err != nil {
		log.Fatalf("produce: %v", err)
	}
	first := produced.Offsets[0]

	// Session: subscribe from the first produced offset and grant exactly n records of credit.
	session, err := client.Session(ctx)
	if err != nil {
		log.Fatalf("session: %v", err)
	}
	err = session.Send(&streamgatev1.SessionRequest{Frame: &streamgatev1.SessionRequest_Subscribe{Subscribe: &streamgatev1.SubscribeFrame{
		Id:    "s1",
		Topic: *topic,
		Position: &streamgatev1.Position{Kind: &streamgatev1.Position_Offsets_{Offsets: &streamgatev1.Position_Offsets{
			Offsets: map[int32]int64{first.Partition: first.Offset},
		}}},
		Partitions: []int32{first.Partition},
		Credit:     uint32(*n),
	}}})
	if err != nil {
		log.Fatalf("subscribe: %v", err)
	}
	received := 0
	for received < *n {
		msg, err := session.Recv()
		if err != nil {
			log.Fatalf("recv: %v", err)
		}
		switch f := msg.Frame.(type) {
		case *streamgatev1.SessionResponse_Records:
			for _, r := range f.Records.Records {
				fmt.Printf("%d %d %s %s\n", r.Partition, r.Offset, r.Key, r.Value)
				received++
			}
		case *streamgatev1.SessionResponse_Error:
			log.Fatalf("error frame: %s %s", f.Error.Code, f.Error.Message)
		case *streamgatev1.SessionResponse_End:
			log.Fatalf("subscription ended: %s %s", f.End.Code, f.End.Message)
		}
	}
	if err := session.CloseSend(); err != nil {
		log.Fatalf("close: %v", err)
	}
}
