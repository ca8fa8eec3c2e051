fn main() {
    println!("hello from an auditable test binary");
}
