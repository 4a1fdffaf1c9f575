fn main() {
    casefile::start();
}
